from spk.cli import main

main()
