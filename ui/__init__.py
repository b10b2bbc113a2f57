"""Streamlit side of the app: what pages share at this level (frame, sign-in, session and address, cached
loaders, figures, components), and sections/<page>/ for one page's pieces."""
