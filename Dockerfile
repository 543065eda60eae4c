# The CDS Hooks service: `plp-cds serve` as an unprivileged user on a slim Python base.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Exactly the versions in requirements.lock, each checked against its hash, in a virtual
# environment the runtime image copies whole; then the package itself, adding nothing.
RUN python -m venv /opt/plp-cds
COPY requirements.lock .
RUN /opt/plp-cds/bin/pip install --require-hashes -r requirements.lock
COPY . .
RUN /opt/plp-cds/bin/pip install --no-deps .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/plp-cds/bin:$PATH
COPY --from=build /opt/plp-cds /opt/plp-cds
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cds
USER cds
WORKDIR /home/cds
# Without a DATABASE_URL the embedded SQLite file lives in the user's home.
ENV DATABASE_URL=sqlite:////home/cds/plp-cds.db
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# uvicorn stops on SIGTERM: it finishes calls in flight, then runs the shutdown lifespan.
STOPSIGNAL SIGTERM
# Every interface of the container: `serve` refuses that without client authentication
# (CDS_TRUSTED_ISSUERS_FILE) unless CDS_REQUIRE_AUTH=false is set on purpose.
CMD ["plp-cds", "serve", "--host", "0.0.0.0", "--port", "8000"]
