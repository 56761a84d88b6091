"""Getting things out later: the outbox, durable timers and the scheduler."""
