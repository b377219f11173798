from leadflow_sf_emulator.cli import main

main()
