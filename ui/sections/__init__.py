"""Page sections: one folder per page (its pieces, in the order the page shows them), shared/ for pieces that
more than one page shows."""
