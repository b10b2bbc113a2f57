"""The Model page's sections: summary, network, confusion matrix, downloads, curves, saved runs and import."""
