import * as TokenStore from "../src/TokenStore.js"
import { tokenStoreContract } from "@mobilepay-auth/platform/testing"

// Every in-memory instance is separate, so the cross-instance races do not apply.
tokenStoreContract("memory", TokenStore.layerMemory, { shared: false })
