"""The Streamlit app's pages (sendlens/app_main.py draws them)."""
