"""Notifiers: Slack and generic webhooks. A failed notification never fails the sync."""
