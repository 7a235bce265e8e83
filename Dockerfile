# syntax=docker/dockerfile:1
# One Dockerfile, four images (docker-compose.yml and deploy/ pick the target), each with its
# runtime requirements only (tests and linters live in requirements/*-dev.txt):
#   rasa     - the Rasa server with the trained model and its plugins (bot/)
#   actions  - the action server on rasa-sdk alone, not Rasa (actions/)
#   services - the catalog, the LINE/web gateway with the staff side, the analytics consumer (Python 3.11)
#   trainer  - the candidate trainer (Python 3.11, with Rasa's 3.10 environment beside it for
#              `rasa train`) and Rasa's model server, with the seed model
# contract/ and privacy/ are installed as packages into every image that uses them.

# ---- Rasa's world: Python 3.10, pinned by requirements/rasa.lock ------------------------
FROM python:3.10-slim-bookworm AS rasa-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# python3.10 by name: the venv's links then name that interpreter, which the trainer image
# copies beside its own 3.11 (where `python` is 3.11).
RUN python3.10 -m venv /opt/venv
COPY requirements/rasa.txt requirements/rasa.lock /tmp/req/
RUN /opt/venv/bin/pip install "pip<25" wheel \
    && /opt/venv/bin/pip install -r /tmp/req/rasa.txt -c /tmp/req/rasa.lock
COPY contract/ /tmp/pkg/contract/
COPY privacy/ /tmp/pkg/privacy/
RUN /opt/venv/bin/pip install --no-deps /tmp/pkg/contract /tmp/pkg/privacy

# The model is trained in the image build so the runtime image never trains.
FROM rasa-deps AS train
WORKDIR /app
ENV PYTHONPATH=/app PYTHAINLP_OFFLINE=1 RASA_TELEMETRY_ENABLED=false
COPY bot/ bot/
COPY config.yml domain.yml ./
COPY data/ data/
RUN /opt/venv/bin/rasa train --out /app/models --fixed-model-name thai-eservice

FROM python:3.10-slim-bookworm AS rasa
# One thread per numeric library: thread pools spinning against each other under
# concurrent users cost more than they give (see scripts/stack).
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHAINLP_OFFLINE=1 RASA_TELEMETRY_ENABLED=false \
    PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
RUN useradd --create-home --uid 1001 assistant
COPY --from=rasa-deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=assistant bot/ bot/
COPY --chown=assistant endpoints.yml credentials.yml domain.yml config.yml ./
COPY --from=train --chown=assistant /app/models/thai-eservice.tar.gz models/thai-eservice.tar.gz
USER 1001
# One Rasa worker per core the container is given; bot/lock_store.py keeps them safe.
ENV SANIC_WORKERS=2
EXPOSE 5005
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5005/', timeout=4)"]
# Rasa's HTTP API (the gateway's handoff and agent assist) is on, behind RASA_TOKEN: the server
# refuses to start without one rather than serve the API open. The REST channel wants REST_TOKEN
# (credentials.yml). With a model server in endpoints.yml (MODEL_SERVER_URL) every worker takes
# the live model from it; the model here is the one used without.
CMD ["sh", "-c", "exec rasa run --port 5005 --model models/thai-eservice.tar.gz --endpoints endpoints.yml --credentials credentials.yml --enable-api --auth-token \"${RASA_TOKEN:?RASA_TOKEN must be set, the HTTP API is enabled}\""]

# ---- The action server: rasa-sdk, Python 3.10 (the versions of requirements/rasa.lock) ----
FROM python:3.10-slim-bookworm AS actions-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements/actions.txt requirements/rasa.lock /tmp/req/
RUN /opt/venv/bin/pip install "pip<25" wheel \
    && /opt/venv/bin/pip install -r /tmp/req/actions.txt -c /tmp/req/rasa.lock
COPY contract/ /tmp/pkg/contract/
RUN /opt/venv/bin/pip install --no-deps /tmp/pkg/contract

FROM python:3.10-slim-bookworm AS actions
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHAINLP_OFFLINE=1 PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 1001 assistant
COPY --from=actions-deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=assistant actions/ actions/
COPY --chown=assistant catalogs.yml ./
USER 1001
EXPOSE 5055
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5055/health', timeout=4)"]
CMD ["python", "-m", "rasa_sdk", "--port", "5055", "--actions", "actions"]

# ---- The services' world: Python 3.11 -----------------------------------------------------
FROM python:3.11-slim-bookworm AS services-deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements/services.txt requirements/services.lock /tmp/req/
RUN /opt/venv/bin/pip install -r /tmp/req/services.txt -c /tmp/req/services.lock
COPY contract/ /tmp/pkg/contract/
COPY privacy/ /tmp/pkg/privacy/
RUN /opt/venv/bin/pip install --no-deps /tmp/pkg/contract /tmp/pkg/privacy

FROM python:3.11-slim-bookworm AS services
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 1001 assistant
COPY --from=services-deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=assistant catalog/ catalog/
COPY --chown=assistant gateway/ gateway/
COPY --chown=assistant staff/ staff/
COPY --chown=assistant analytics/ analytics/
# /var/lib/eservice: the folder the gateway shares with the model server and the trainer (RUN_DIR).
RUN mkdir -p /app/run /var/lib/eservice && chown assistant /app/run /var/lib/eservice
USER 1001
EXPOSE 8001 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
CMD ["python", "-m", "catalog", "--host", "0.0.0.0", "--port", "8001"]

# ---- The candidate trainer and Rasa's model server: both Python worlds in one image ----------------
# The worker (staff/candidates/worker.py) runs in the services' Python 3.11 and calls Rasa's 3.10
# environment (RASA_PYTHON) for `rasa data validate`, `rasa train` and the gate, as on a machine.
# Both interpreters come from Debian bookworm images, so the 3.10 one and its environment are
# copied in beside the 3.11 one. The seed model is the one the `train` stage made for `rasa`.
FROM python:3.11-slim-bookworm AS trainer
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHAINLP_OFFLINE=1 \
    RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=3 RASA_PYTHON=/opt/rasa-venv/bin/python \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    RUN_DIR=/var/lib/eservice SEED_MODEL=/app/models/thai-eservice.tar.gz
COPY --from=rasa-deps /usr/local/bin/python3.10 /usr/local/bin/python3.10
COPY --from=rasa-deps /usr/local/lib/python3.10/ /usr/local/lib/python3.10/
COPY --from=rasa-deps /usr/local/lib/libpython3.10.so.1.0 /usr/local/lib/
COPY --from=rasa-deps /opt/venv /opt/rasa-venv
COPY --from=services-deps /opt/venv /opt/venv
# The 3.10 environment was made at /opt/venv: its console scripts name that path, so the worker
# runs it as `python -m rasa`. Checked here, at build time.
RUN ldconfig && /opt/rasa-venv/bin/python -c "import sys, rasa; assert sys.version_info[:2] == (3, 10)" \
    && useradd --create-home --uid 1001 assistant \
    && mkdir -p /var/lib/eservice && chown assistant /var/lib/eservice
WORKDIR /app
# The gate's cross-validation runs bench/'s (staff/candidates/rasa_side.py).
COPY --chown=assistant bot/ bot/
COPY --chown=assistant bench/ bench/
COPY --chown=assistant catalog/ catalog/
COPY --chown=assistant staff/ staff/
COPY --chown=assistant regression/ regression/
COPY --chown=assistant data/ data/
COPY --chown=assistant config.yml domain.yml endpoints.yml ./
COPY --from=train --chown=assistant /app/models/thai-eservice.tar.gz models/thai-eservice.tar.gz
USER 1001
EXPOSE 5006
# The model server's health (python -m staff.models); the worker's is its ready file, RUN_DIR/trainer.ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5006/health', timeout=4)"]
CMD ["python", "-m", "staff.models", "--host", "0.0.0.0", "--port", "5006"]
