"""Jobs: the transactional outbox, its relay to Redis, and the arq worker."""
