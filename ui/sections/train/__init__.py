"""The Train page's sections: settings and network editor, what it trains on, the job's live view, watch it learn."""
