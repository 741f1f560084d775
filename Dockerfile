# Production image for docker-compose.yml (the development machines have no Docker engine: use `make run`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src
RUN pip install --no-cache-dir -e . && useradd --system flexreg
USER flexreg
EXPOSE 8000
CMD ["flexreg", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
