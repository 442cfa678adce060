export * from './artifacts';
export * from './config';
export * from './deploy';
export * from './voucher';
export * from './reverts';
export * from './token';
export {
  type Redemption,
  RedemptionFailedError,
  type VoucherRejection,
  VoucherRejectedError,
  type VoucherSettlement,
} from './redemption';
export * from './payout-client';
export * from './anchor-client';
export * from './audit';
