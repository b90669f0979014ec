from kfsync.cli import main

main()
