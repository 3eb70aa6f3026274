{{/*
friendlyhello.name: the chart name, or nameOverride.
*/}}
{{- define "friendlyhello.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
friendlyhello.fullname: the prefix of every resource name; the release name
alone when it already contains the chart name. Cut to 46 characters before
any suffix is added: the Redis StatefulSet (+"-redis") must stay within the
52 its pods' controller-revision-hash label allows, and its headless Service
(+"-redis-headless") within the 63 of a DNS label, for any release name Helm
accepts (53).
*/}}
{{- define "friendlyhello.fullname" -}}
{{- $base := "" }}
{{- if .Values.fullnameOverride }}
{{- $base = .Values.fullnameOverride }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- $base = .Release.Name }}
{{- else }}
{{- $base = printf "%s-%s" .Release.Name $name }}
{{- end }}
{{- end }}
{{- $base | trunc 46 | trimSuffix "-" }}
{{- end }}

{{/*
friendlyhello.chart: chart name and version, for the helm.sh/chart label.
*/}}
{{- define "friendlyhello.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
friendlyhello.labels: the common labels of every object. Includes the chart
version, so it must never be used in a selector or a volumeClaimTemplate.
Call with (dict "context" $ "component" "web").
*/}}
{{- define "friendlyhello.labels" -}}
helm.sh/chart: {{ include "friendlyhello.chart" .context }}
{{ include "friendlyhello.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: friendlyhello
{{- end }}

{{/*
friendlyhello.selectorLabels: the labels selectors match on. Only values that
never change between chart versions, since Deployment and StatefulSet
selectors are immutable. Call with (dict "context" $ "component" "web").
*/}}
{{- define "friendlyhello.selectorLabels" -}}
app.kubernetes.io/name: {{ include "friendlyhello.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
friendlyhello.serviceAccountName: the web pods' ServiceAccount.
*/}}
{{- define "friendlyhello.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "friendlyhello.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
friendlyhello.image: the web image reference; a digest wins over the tag.
*/}}
{{- define "friendlyhello.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
friendlyhello.redis.fullname: the name of the Redis StatefulSet and its
Services (at most 52 characters: see friendlyhello.fullname).
*/}}
{{- define "friendlyhello.redis.fullname" -}}
{{- printf "%s-redis" (include "friendlyhello.fullname" .) }}
{{- end }}

{{/*
friendlyhello.redis.host: where the web pods find Redis.
*/}}
{{- define "friendlyhello.redis.host" -}}
{{- if .Values.redis.enabled }}
{{- include "friendlyhello.redis.fullname" . }}
{{- else }}
{{- required "externalRedis.host is required when redis.enabled is false" .Values.externalRedis.host }}
{{- end }}
{{- end }}

{{/*
friendlyhello.redis.secretName: the Secret holding the Redis password, or ""
when Redis runs without AUTH.
*/}}
{{- define "friendlyhello.redis.secretName" -}}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.enabled }}
{{- default (include "friendlyhello.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}
{{- else }}
{{- .Values.externalRedis.existingSecret }}
{{- end }}
{{- end }}

{{/*
friendlyhello.redis.caBundle: the volume source of the external Redis's CA
bundle ("configMap" or "secret" with its name and key), or "" when TLS is off
or trusts the image's system CAs.
*/}}
{{- define "friendlyhello.redis.caBundle" -}}
{{- $tls := .Values.externalRedis.tls }}
{{- if and (not .Values.redis.enabled) $tls.enabled }}
{{- $items := list (dict "key" $tls.caBundle.key "path" "ca.crt") }}
{{- if $tls.caBundle.configMapName }}
{{- toYaml (dict "configMap" (dict "name" $tls.caBundle.configMapName "items" $items)) }}
{{- else if $tls.caBundle.secretName }}
{{- toYaml (dict "secret" (dict "secretName" $tls.caBundle.secretName "items" $items)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
friendlyhello.redis.secretKey: the key of the password in that Secret.
*/}}
{{- define "friendlyhello.redis.secretKey" -}}
{{- if .Values.redis.enabled }}
{{- .Values.redis.auth.existingSecretPasswordKey }}
{{- else }}
{{- .Values.externalRedis.existingSecretPasswordKey }}
{{- end }}
{{- end }}

{{/*
friendlyhello.redis.password: the password of the chart's own Secret, in this
order: redis.auth.password when given (so a rotation through values takes
effect), else the value the release's Secret already holds in the cluster
(lookup: `helm upgrade` keeps it), else a new random one. With
redis.auth.existingSecret the chart makes no Secret and this is not used.
Resolved once per render, so the Secret and the pods' checksums agree.
*/}}
{{- define "friendlyhello.redis.password" -}}
{{- if not (hasKey .Values.redis.auth "resolvedPassword") }}
{{- $password := .Values.redis.auth.password }}
{{- if not $password }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "friendlyhello.redis.fullname" .) }}
{{- $key := .Values.redis.auth.existingSecretPasswordKey }}
{{- if and $existing $existing.data (hasKey $existing.data $key) }}
{{- $password = index $existing.data $key | b64dec }}
{{- else }}
{{- $password = randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- $_ := set .Values.redis.auth "resolvedPassword" $password }}
{{- end }}
{{- .Values.redis.auth.resolvedPassword }}
{{- end }}

{{/*
friendlyhello.redis.passwordChecksum: a hash of the password the pods use, as
a pod annotation: a rotation restarts the web and Redis pods together, so no
pod keeps an old password. For redis.auth.existingSecret, the hash of that
Secret's data where the cluster can be read (empty under `helm template`).
*/}}
{{- define "friendlyhello.redis.passwordChecksum" -}}
{{- $secretName := include "friendlyhello.redis.secretName" . }}
{{- if $secretName }}
{{- if and .Values.redis.enabled (not .Values.redis.auth.existingSecret) }}
{{- include "friendlyhello.redis.password" . | sha256sum }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName }}
{{- if and $existing $existing.data }}
{{- index $existing.data (include "friendlyhello.redis.secretKey" .) | default "" | sha256sum }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
friendlyhello.dataChecksum: a hash of the data of the ConfigMap rendered by
TEMPLATE (a file name under templates/): only what the pods read, so a change
of labels or chart version restarts nothing. Call with (dict "context" $
"template" "configmap.yaml").
*/}}
{{- define "friendlyhello.dataChecksum" -}}
{{- $rendered := include (print .context.Template.BasePath "/" .template) .context | fromYaml }}
{{- $rendered.data | toYaml | sha256sum }}
{{- end }}

{{/*
friendlyhello.terminationGracePeriod: preStop sleep + gunicorn's graceful
timeout, plus a margin, so Kubernetes never kills a pod that is still
finishing requests.
*/}}
{{- define "friendlyhello.terminationGracePeriod" -}}
{{- add .Values.lifecycle.preStopSleepSeconds .Values.gunicorn.gracefulTimeout 5 }}
{{- end }}
