"""The Streamlit explorer's pages and panels (``app.py`` at the repository root runs them).

Each module arranges widgets and calls the public :mod:`clustering` API only: no
optimisation or data logic lives here, and nothing under ``clustering/`` imports
Streamlit. Plain functions (no widgets) sit beside the panels so the tests can call
them directly.
"""
