"""Real servers on loopback that speak the feeds' protocols, for the feed tests."""
