"""Features composed from the engine's public calls: batch, comparison, tables, ratings,
export, plots. Nothing here reaches into the Studio or the engine's private state."""
