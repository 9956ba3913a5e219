"""Signing in and out, registration, passwords, phone codes."""
