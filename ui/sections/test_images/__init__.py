"""The Test images page's sections: its browsing state, the Test set tab and the Your image tab."""
