"""Tests of the HTML pages in a real browser (Chromium through Playwright)."""
