# The CDS Hooks service: `plp-cds serve` as an unprivileged user on a slim Python base.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# Wheels for the package and every dependency, so the runtime image needs no compilers.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels plp-cds && rm -rf /wheels \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin cds
USER cds
WORKDIR /home/cds
# Without a DATABASE_URL the embedded SQLite file lives in the user's home.
ENV DATABASE_URL=sqlite:////home/cds/plp-cds.db
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# uvicorn stops on SIGTERM: it finishes calls in flight, then runs the shutdown lifespan.
STOPSIGNAL SIGTERM
CMD ["plp-cds", "serve", "--host", "0.0.0.0", "--port", "8000"]
