# Through the fast replay first: an unchanged `check` is answered before click is imported.
from auditor.fast_replay import main

if __name__ == "__main__":
    main()
