import { simulationSuite, unitSuite } from "./consent/unit.js"

unitSuite()
simulationSuite()
