"""Who owns a ticket: the pure decision, the workload snapshot, ownership, the chain."""
