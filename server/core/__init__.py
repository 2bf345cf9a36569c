"""Settings, logging, security primitives, rate limiting and metrics shared by the service's layers."""
