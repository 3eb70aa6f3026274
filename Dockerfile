# The friendlyhello image: gunicorn serving the app as UID 10001 on a runtime
# assembled from Debian's packages into an empty image (no shell, no package
# manager, no compiler).
#
# BASE_IMAGE is Debian (the runtime's Python is Debian's python3). hack/image.sh
# passes the one image_for base gives: this one, or a local stand-in where no
# registry answers.
ARG BASE_IMAGE=debian:trixie-slim

# The builder runs on the build host's platform and assembles the runtime of
# the target's (TARGETARCH) from that architecture's Debian packages and
# wheels, which it unpacks but never runs: an arm64 image builds on an amd64
# host (and the other way) as fast as the host's own, with no emulation.
#checkov:skip=CKV_DOCKER_7:The base is the ARG above, pinned to a Debian release tag; checkov cannot see through the ARG
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS builder
ARG TARGETARCH
COPY hack/image-sysroot.sh /usr/local/bin/
RUN image-sysroot.sh "$TARGETARCH" /sysroot
COPY requirements.lock /tmp/requirements.lock
# Extra CA certificates (a TLS-intercepting proxy) can be given as the BuildKit
# secret "ca"; it is only mounted while pip runs and never stored in a layer.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && . /sysroot/.pip.env \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
      --target "$(echo /opt/venv/lib/python3*/site-packages)" -r /tmp/requirements.lock
COPY gunicorn.conf.py /srv/app/
COPY app /srv/app/app
COPY hack/image-rootfs.sh /usr/local/bin/
RUN image-rootfs.sh /sysroot /rootfs

# Only for the dev target: a static busybox gives `skaffold dev` the tar and
# rm it runs in the container to sync edited files.
FROM ${BASE_IMAGE} AS devtools
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /devtools/usr/bin \
 && cp /bin/busybox /devtools/usr/bin/ \
 && for tool in tar rm sh; do ln -s busybox "/devtools/usr/bin/$tool"; done

FROM scratch AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=
ARG CREATED=
ARG SOURCE=https://github.com/friendlyhello/friendlyhello
LABEL org.opencontainers.image.title="friendlyhello" \
      org.opencontainers.image.description="The Docker get-started visit counter, Flask + Redis" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /rootfs /
ENV PATH=/opt/venv/bin:/usr/bin \
    LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NAME=World \
    PORT=8080 \
    APP_VERSION=${VERSION} \
    GIT_REVISION=${REVISION}
WORKDIR /srv/app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-m", "app.healthcheck"]
# gunicorn is PID 1: it handles SIGTERM (drain, then exit 0) and reaps its workers.
CMD ["python", "-m", "gunicorn", "-c", "gunicorn.conf.py"]

# `skaffold dev` (profile dev): the runtime plus busybox, with the sources
# owned by the server's user so synced files can replace them, and gunicorn
# restarting workers on each change. Never shipped.
FROM runtime AS dev
COPY --from=devtools /devtools/ /
USER 0:0
RUN ["busybox", "chown", "-R", "10001:10001", "/srv/app"]
USER 10001:10001
ENV GUNICORN_RELOAD=1

# The default target: the runtime, unchanged.
FROM runtime
