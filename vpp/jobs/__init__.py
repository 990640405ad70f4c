"""Scheduled jobs: thin calls into services."""
