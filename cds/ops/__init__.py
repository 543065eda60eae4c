"""Operations: logging, metrics, health and readiness, the app lifespan, the report."""
