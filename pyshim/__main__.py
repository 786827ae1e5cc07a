from pyshim.cli import leave, main

leave(main())
