# Multi-stage build: wheels are built in a full image, the runtime image is slim and non-root.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY geo ./geo
COPY channels ./channels
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
RUN useradd --create-home --uid 10001 tocsin
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
# Migrations are run by `tocsin db upgrade`, which looks for them beside the package source.
COPY alembic.ini ./
COPY alembic ./alembic
ENV TOCSIN_DATA_DIR=/data PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown tocsin:tocsin /data
USER tocsin
EXPOSE 8000
CMD ["tocsin", "serve", "--host", "0.0.0.0"]
