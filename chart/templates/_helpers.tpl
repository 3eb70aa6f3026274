{{/*
friendlyhello.name: the chart name, or nameOverride.
*/}}
{{- define "friendlyhello.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
friendlyhello.fullname: the prefix of every resource name; the release name
alone when it already contains the chart name.
*/}}
{{- define "friendlyhello.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
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
friendlyhello.redis.fullname: the name of the Redis StatefulSet and its Services.
*/}}
{{- define "friendlyhello.redis.fullname" -}}
{{- printf "%s-redis" (include "friendlyhello.fullname" .) | trunc 63 | trimSuffix "-" }}
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
friendlyhello.redis.password: the password for the chart's own Secret. Kept
stable: an existing Secret's value is reused (lookup) so `helm upgrade` never
changes it; otherwise redis.auth.password, otherwise a new random one.
*/}}
{{- define "friendlyhello.redis.password" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "friendlyhello.redis.fullname" .) }}
{{- $key := .Values.redis.auth.existingSecretPasswordKey }}
{{- if and $existing $existing.data (hasKey $existing.data $key) }}
{{- index $existing.data $key | b64dec }}
{{- else if .Values.redis.auth.password }}
{{- .Values.redis.auth.password }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}

{{/*
friendlyhello.terminationGracePeriod: preStop sleep + gunicorn's graceful
timeout, plus a margin, so Kubernetes never kills a pod that is still
finishing requests.
*/}}
{{- define "friendlyhello.terminationGracePeriod" -}}
{{- add .Values.lifecycle.preStopSleepSeconds .Values.gunicorn.gracefulTimeout 5 }}
{{- end }}
