"""The Embedding page's sections: its controls and address, the projection, the map and the selection."""
