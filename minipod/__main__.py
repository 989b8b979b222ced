from minipod.cli.commands import main

main()
