"""The Feature maps page's sections: the image choice, the layer view, explain a cell and the exemplars."""
