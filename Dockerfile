# parkvpp service image: API + scheduler. Multi-stage: build wheels, then a slim runtime as a
# non-root user with a health check on /healthz. The console's browser files (htmx, ECharts,
# Swagger UI, ReDoc) are installed from console-assets/package-lock.json in a Node stage and
# copied into the package before the wheel is built: nothing is loaded from a CDN at run time.
FROM node:20-slim AS assets
WORKDIR /assets
COPY console-assets/package.json console-assets/package-lock.json console-assets/vendor.sh ./
RUN npm ci --ignore-scripts --no-audit --no-fund && sh vendor.sh /assets/vendor

FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY vpp ./vpp
COPY forecasting ./forecasting
COPY bidding ./bidding
COPY adapters ./adapters
COPY --from=assets /assets/vendor ./vpp/console/static/vendor
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 vpp
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY config ./config
ENV VPP_CONFIG_DIR=/app/config \
    VPP_DATABASE_URL=sqlite:////app/data/parkvpp.sqlite \
    PYTHONUNBUFFERED=1
RUN mkdir -p /app/data && chown -R vpp:vpp /app
USER vpp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["vpp", "serve", "--host", "0.0.0.0", "--port", "8000"]
