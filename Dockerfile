# leadscore: the scoring API and the dashboard in one image.
#   docker build -t leadscore .
#   docker run -p 8000:8000 -v $PWD/work:/work -e LEADSCORE_DATABASE_URL=... leadscore
FROM python:3.11-slim

# LightGBM needs OpenMP at run time
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 leadscore

# models, the MLflow store and the SQLite fallback live in the working directory
WORKDIR /work
RUN chown leadscore /work
USER leadscore
ENV LEADSCORE_SERVICE__HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 8000 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["leadscore", "serve", "--host", "0.0.0.0", "--port", "8000"]
