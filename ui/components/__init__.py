"""Our Streamlit widgets: v2 components with their own JavaScript (the Embedding map, the confusion matrix)
and the image uploader."""
