"""Benchmarks behind ``sim2real bench``: each ``run(...)`` returns the JSON summary of one headline figure."""
