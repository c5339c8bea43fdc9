/**
 * The counter example (SPEC §8): actions shared by client and server code.
 *
 * CRDT merging is right for text and shapes, wrong for a balance: two clients incrementing
 * 10 both write 11. With actions the server applies each increment on its latest state.
 */
import { ActionRefused, defineActions } from '../../src/shared/actions/define.js'

export interface CounterData {
  [key: string]: number
  value: number
}

export const counterActions = defineActions(
  {
    increment: (data: CounterData, by: number = 1) => {
      data.value = (data.value ?? 0) + by
    },
  },
  { name: 'counter', actionOnly: true },
)

export interface WalletData {
  [key: string]: number
  balance: number
}

export const walletActions = defineActions(
  {
    deposit: (data: WalletData, amount: number) => {
      data.balance += amount
    },
    withdraw: (data: WalletData, amount: number) => {
      if (data.balance < amount) throw new ActionRefused('insufficient-funds', `balance ${data.balance} < ${amount}`)
      data.balance -= amount
    },
  },
  { name: 'wallet', actionOnly: true },
)
