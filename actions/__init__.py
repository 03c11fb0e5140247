"""The Rasa action server (rasa-sdk): thin adapters from Rasa's tracker to the domain core in `hotline`."""
