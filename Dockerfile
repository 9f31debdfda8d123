# syntax=docker/dockerfile:1
# Build stage: compile nothing by hand, just install the package into a virtual environment.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY webhook ./webhook
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

# Final stage: the virtual environment only; no compilers, no pip cache, not root.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin vcfbackup \
    && mkdir -p /data && chown vcfbackup /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VCFBACKUP_HOST=0.0.0.0 \
    VCFBACKUP_PORT=8080 \
    VCFBACKUP_DATABASE_URL=sqlite:////data/vcf-backup-webhook.db
USER vcfbackup
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["vcf-backup-webhook"]
CMD ["serve"]
