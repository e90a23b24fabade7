"""Chaos tooling: fault injection (a Toxiproxy-compatible fault proxy) and
the checkers that judge the histories recorded under faults."""
