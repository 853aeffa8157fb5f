"""EuroSAT land-cover dashboard: data, model, training, inference and geo tools.

Nothing in this package outside ``eurosat.ui`` imports Streamlit, and nothing
imported by ``eurosat`` at top level imports TensorFlow (it is loaded lazily
where training, export or Grad-CAM need it).
"""

__version__ = "0.1.0"
