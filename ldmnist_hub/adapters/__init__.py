"""Framework adapters (torch, tf): the same arrays, served by slicing, imported only when asked for."""
