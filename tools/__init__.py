"""Developer tooling around the app: Terraform runner, AWS emulator rehearsal. Not deployed."""
