from minipod.cli import main

main()
