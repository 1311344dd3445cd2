"""`kilo chat`: the routed REPL. Entry point: :func:`kilocli.chat.app.run_chat`."""
