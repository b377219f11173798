# One image recipe for every leadflow service. Build from the repository root:
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=intake \
#       --build-arg HEALTH_URL=http://127.0.0.1:8001/healthz -t leadflow/intake .
# The image holds only that service's locked third-party dependencies
# (deploy/docker/locks/<SERVICE>.lock, compiled by `make lock` from the service's own dependencies and
# those of the workspace libraries it uses, pinned and hashed as in requirements.lock), then the
# workspace members it needs, installed without dependencies. No test tools, no other service's code.
# Bytecode is compiled at build time: PYTHONDONTWRITEBYTECODE would otherwise make every start compile
# every module it imports (~2 s of a service's start on a 2-core machine).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
ARG SERVICE
ARG HEALTH_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    LEADFLOW_SERVICE=${SERVICE} LEADFLOW_HEALTH_URL=${HEALTH_URL}
WORKDIR /app

COPY deploy/docker/locks/${SERVICE}.lock /tmp/service.lock
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<name under services/>"; exit 1; } \
    && pip install --quiet uv \
    && uv pip install --system --compile-bytecode --require-hashes -r /tmp/service.lock

COPY deploy/docker/service_image.py /src/deploy/docker/service_image.py
COPY libs /src/libs
COPY services/${SERVICE} /src/services/${SERVICE}
RUN cd /src && uv pip install --system --compile-bytecode --no-deps $(python deploy/docker/service_image.py members "${SERVICE}") \
    && ln -s "$(command -v "$(python deploy/docker/service_image.py command "${SERVICE}")")" /usr/local/bin/leadflow-service \
    && mkdir -p "/app/services/${SERVICE}" \
    && if [ -d "services/${SERVICE}/config" ]; then cp -r "services/${SERVICE}/config" "/app/services/${SERVICE}/"; fi \
    && rm -rf /src /tmp/service.lock

# Shared configuration every service may read (topics, SLA policies and calendars).
COPY deploy/topics.yaml /app/deploy/topics.yaml
COPY deploy/policies /app/deploy/policies

RUN useradd --create-home --uid 10001 leadflow && mkdir -p /app/var /data /certs && chown leadflow /app/var /data /certs
USER leadflow
HEALTHCHECK --interval=10s --timeout=3s CMD test -z "$LEADFLOW_HEALTH_URL" || python -c "import os, ssl, urllib.request as u; u.urlopen(os.environ['LEADFLOW_HEALTH_URL'], context=ssl._create_unverified_context())" || exit 1
CMD ["leadflow-service"]
