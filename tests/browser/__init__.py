"""Real-browser tests (Playwright + Chromium); see conftest.py."""
