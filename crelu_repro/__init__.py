"""crelu-repro: reproduce and extend Shang et al., "Understanding and Improving CNNs via
Concatenated Rectified Linear Units" (ICML 2016)."""

__version__ = "0.1.0"
