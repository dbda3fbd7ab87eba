"""District sources: a catalogue of official datasets and the importer that loads them."""
